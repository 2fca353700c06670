// Types for tokens.mjs (plain JavaScript so `npm run mesh:tokens` needs no TypeScript step).
export declare function newToken(): string;
export declare function addTokens(text: string, make?: () => string): { text: string; added: string[] };
