import type { Plugin } from 'esbuild';

/** esbuild plugin: zod's classic API without its JSON-Schema generator (extension bundle only). */
export declare const zodParseOnly: Plugin;
