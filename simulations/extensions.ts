/**
 * Extension modules: JavaScript modules a scenario lists in `extensions`, imported before anything runs, in the
 * main thread and in every pool worker, so that they can register models, datasets and corrupted-client
 * behaviours. A module's default export is one of
 *
 * - a function `(api) => void | Promise<void>`, called once per thread with `ExtensionApi` (the registration
 *   functions and the tfjs instance), so the module needs no import of this project;
 * - an object `{ models?, datasets?, behaviors? }` mapping names to definitions, loaders and implementations;
 * - nothing (no default export): the module registered what it needed by importing the registries itself.
 *
 * Paths are relative to the current directory. Docs: docs/own-model.md.
 */
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../shared/federated/errors.js';
import { registerModel, type ModelDefinition } from '../shared/models/registry.js';
import { registerDataset, type DatasetLoader } from '../shared/data/registry.js';
import { loadImageFolder } from '../shared/data/images.js';
import { registerBehavior, type BehaviorImplementation } from './behaviors/registry.js';

/** What an extension module's default-export function receives. */
export interface ExtensionApi {
  /** The tfjs instance the simulation computes with. */
  tf: typeof tf;
  /** Adds a model by name (shared/models/registry.ts). */
  registerModel: typeof registerModel;
  /** Adds a dataset by name (shared/data/registry.ts). */
  registerDataset: typeof registerDataset;
  /** Adds a corrupted-client behaviour kind (simulations/behaviors/registry.ts). */
  registerBehavior: typeof registerBehavior;
  /** Loads an image folder (PNGs with labels.csv; shared/data/images.ts), e.g. inside a dataset loader. */
  loadImageFolder: typeof loadImageFolder;
}

/** The object form of an extension module's default export. */
export interface ExtensionObject {
  models?: Record<string, ModelDefinition>;
  datasets?: Record<string, DatasetLoader>;
  behaviors?: Record<string, BehaviorImplementation>;
}

const API: ExtensionApi = { tf, registerModel, registerDataset, registerBehavior, loadImageFolder };

/** The API passed to extension functions. */
export function extensionApi(): ExtensionApi {
  return API;
}

/** Absolute path → the load in progress or done (each module is imported and run once per thread). */
const loads = new Map<string, Promise<void>>();
const done = new Set<string>();

/** True once the module at `file` (relative to the current directory) has been loaded in this thread. */
export function isExtensionLoaded(file: string): boolean {
  return done.has(path.resolve(file));
}

/**
 * Imports each module (in order) and applies its default export; returns their absolute paths. A module already
 * loaded in this thread is not run again. Throws a ConfigError naming `extensions` and the module.
 */
export async function loadExtensions(files: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const file of files) {
    const abs = path.resolve(file);
    let p = loads.get(abs);
    if (p === undefined) {
      p = loadOne(file, abs);
      loads.set(abs, p);
      p.catch(() => loads.delete(abs));
    }
    await p;
    done.add(abs);
    out.push(abs);
  }
  return out;
}

async function loadOne(file: string, abs: string): Promise<void> {
  const at = `extensions: ${JSON.stringify(file)}`;
  if (!existsSync(abs) || !statSync(abs).isFile())
    throw new ConfigError('extensions', `${at}: no such file (resolved to ${abs}); list JavaScript modules (.js or .mjs) that register models, datasets or behaviours`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError('extensions', `${at}: cannot import ${abs}: ${(err as Error).message}`);
  }
  const def = mod['default'];
  try {
    if (def === undefined) return;
    if (typeof def === 'function') {
      await (def as (api: ExtensionApi) => unknown)(API);
      return;
    }
    if (def !== null && typeof def === 'object' && !Array.isArray(def)) {
      const o = def as Record<string, unknown>;
      if ('forward' in o || 'layers' in o) {
        throw new Error("its default export is a model definition; give the module as the scenario's model (model: <path>), not in extensions");
      }
      const known = ['models', 'datasets', 'behaviors'];
      const unknown = Object.keys(o).filter((k) => !known.includes(k));
      if (unknown.length > 0) throw new Error(`its default export has unknown keys ${unknown.join(', ')}; expected models, datasets and behaviors`);
      for (const [name, m] of Object.entries((o['models'] ?? {}) as Record<string, ModelDefinition>)) registerModel(name, m);
      for (const [name, l] of Object.entries((o['datasets'] ?? {}) as Record<string, DatasetLoader>)) registerDataset(name, l);
      for (const [kind, b] of Object.entries((o['behaviors'] ?? {}) as Record<string, BehaviorImplementation>)) registerBehavior(kind, b);
      return;
    }
    throw new Error(`its default export must be a function (api) => void or an object { models, datasets, behaviors }, got ${Array.isArray(def) ? 'an array' : def === null ? 'null' : typeof def}`);
  } catch (err) {
    throw new ConfigError('extensions', `${at} (${abs}): ${(err as Error).message}`);
  }
}
