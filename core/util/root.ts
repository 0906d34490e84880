/**
 * The project's root folder, for the files found relative to the code rather than to the working
 * directory: package.json, the native addon and CUDA plugin (core/native), renderer/dist. One helper so
 * that the compiled CLI (scripts/build-cli.mjs: core/ mirrored into .build/core/, one level deeper)
 * finds the same files as the TypeScript sources.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// this file is <root>/core/util/root.ts, or <root>/.build/core/util/root.js once compiled
const here = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(here, import.meta.url.endsWith('.js') ? '../../..' : '../..');

/** A path inside the project root. */
export const fromRoot = (...parts: string[]): string => path.join(projectRoot, ...parts);
