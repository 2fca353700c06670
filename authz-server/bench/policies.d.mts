// Types of policies.mjs for the TypeScript tests that reuse its generators.
export declare function benchPolicies(): string;
export declare const BENCH_POLICY_COUNT: number;
export declare function largePolicyFile(bytes: number, revision: number): string;
export declare function manyPolicies(first: number, count: number, namespaces: number): string;
