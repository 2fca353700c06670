// markdownlint rule: a code span is set apart from the words around it. "the `.wasm`path" or "in`policies/`"
// (a space lost to a formatter) reads as one word; punctuation next to a span ("`x`," "(`y`)") is fine.
"use strict";

/** Every token of `type` in micromark's token tree. */
function tokensOfType(tokens, type, out = []) {
  for (const token of tokens) {
    if (token.type === type) out.push(token);
    if (token.children) tokensOfType(token.children, type, out);
  }
  return out;
}

const WORD_CHARACTER = /[\p{L}\p{N}]/u;

module.exports = {
  names: ["code-span-spacing"],
  description: "Code spans are separated from adjacent words by a space",
  tags: ["code", "whitespace"],
  parser: "micromark",
  function: (params, onError) => {
    for (const span of tokensOfType(params.parsers.micromark.tokens, "codeText")) {
      const startLine = params.lines[span.startLine - 1] ?? "";
      const endLine = params.lines[span.endLine - 1] ?? "";
      const before = startLine[span.startColumn - 2] ?? "";
      const after = endLine[span.endColumn - 1] ?? "";
      if (WORD_CHARACTER.test(before) || WORD_CHARACTER.test(after)) {
        onError({
          lineNumber: span.startLine,
          detail: `"${before.trim()}${span.text}${after.trim()}": add a space between the code span and the word`,
          context: span.text,
        });
      }
    }
  },
};
