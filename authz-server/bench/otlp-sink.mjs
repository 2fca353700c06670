// An OTLP/HTTP sink for the tracing benchmark: answers every export 200 at once and counts what it received
// (GET /received). A process of its own, because the benchmark blocks its own event loop while h2load runs.
import http from "node:http";

const port = Number(process.argv[2]);
let requests = 0;
let bytes = 0;
http
  .createServer((req, res) => {
    if (req.method === "GET") {
      res.end(JSON.stringify({ requests, bytes }));
      return;
    }
    req.on("data", (chunk) => {
      bytes += chunk.length;
    });
    req.on("end", () => {
      requests += 1;
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  })
  .listen(port, "127.0.0.1");
