/**
 * Models given as JavaScript module paths (docs/own-model.md): resolving, importing and registering them. Node
 * only (the file system and dynamic import by file URL); registry.ts holds the registry itself.
 */
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../federated/errors.js';
import { checkModelDefinition, isModulePath, isRegistered, MODEL_FIX, registerModuleDefinition, setModulePathResolver } from './registry.js';

/** The absolute path a module path names (relative paths from the current directory). */
export function modulePath(name: string): string {
  return path.resolve(name);
}
setModulePathResolver(modulePath);

/**
 * The module a model name refers to: its absolute path when `name` is a module path (and not a name registered
 * as such), else undefined. Worker threads import this module to build the model.
 */
export function modelModuleOf(name: string): string | undefined {
  return isRegistered(name) || !isModulePath(name) ? undefined : modulePath(name);
}

/**
 * Imports the JavaScript module at `file` (relative to the current directory) and registers its default export,
 * a model definition, under the module's absolute path; returns that path. Loading a module twice imports it
 * once. Throws a ConfigError naming the field `model` when the file is missing, fails to import, or exports no
 * definition.
 */
export async function loadModelModule(file: string): Promise<string> {
  const abs = modulePath(file);
  if (isRegistered(abs)) return abs;
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new ConfigError('model', `model = ${JSON.stringify(file)}: no such file (resolved to ${abs}); ${MODEL_FIX}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError('model', `model = ${JSON.stringify(file)}: cannot import ${abs}: ${(err as Error).message}`);
  }
  if (!('default' in mod) || mod['default'] === undefined) {
    throw new ConfigError('model', `model = ${JSON.stringify(file)}: ${abs} has no default export; write \`export default { params, forward }\` (or { layers }) in it (see docs/own-model.md)`);
  }
  registerModuleDefinition(abs, checkModelDefinition(mod['default'], `model = ${JSON.stringify(file)} (${abs})`));
  return abs;
}
