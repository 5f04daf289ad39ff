/**
 * Corrupted-client behaviours (threats-and-evaluation.md §2–§3): serialisable specs, the seeded choice of
 * corrupted clients, data and update poisoning, faults, and the backdoor success rate. Simulation-only: nothing
 * under `server/` or `client/` may import this.
 */
export {
  BEHAVIOR_DEFAULTS,
  BEHAVIOR_KINDS,
  CORRUPTION_DEFAULTS,
  FAULT_STAGES,
  PER_SUM_STAGES,
  behaviorKindOf,
  behaviorOptions,
  behaviorSchema,
  checkPoisonBva,
  implementationOf,
  isBuiltinBehavior,
  isDeferredBehavior,
  parseAnyBehavior,
  resolveDeferredBehavior,
  corruptionSchema,
  dataPoisonOf,
  needsHonestUpdates,
  parseBehavior,
  parseCorruption,
  poisonBvaSupported,
  poisonsData,
  transformsUpdate,
  type AlieSpec,
  type AnyBehaviorSpec,
  type ParseOptions,
  type RegisteredBehaviorSpec,
  type BackdoorSpec,
  type BehaviorContext,
  type BehaviorInput,
  type BehaviorKind,
  type BehaviorSpec,
  type CorruptionInput,
  type CorruptionSpec,
  type CrashRounds,
  type CrashSpec,
  type FaultStage,
  type FreeRiderSpec,
  type GaussianSpec,
  type IpmSpec,
  type LabelFlipSpec,
  type ScaleSpec,
  type SignFlipSpec,
  type StragglerDelay,
  type StragglerSpec,
  type Trigger,
} from './spec.js';
export { behaviorImplementation, registerBehavior, registeredBehaviorKinds, type BehaviorImplementation, type BehaviorOptions, type PoisonResult } from './registry.js';
export { corruptedCount, corruptedInRound, corruptedPopulation } from './selection.js';
export { labelMap, poisonLocalData, stampTrigger, triggerOffsets, type ImageShape, type LocalData, type PoisonedData } from './data.js';
export { alieAutoZ, normalQuantile, scaleGamma, transformBvaContribution, transformUpdate, type UpdateContext } from './update.js';
export { crashPlan, stragglerDelayMs, type CrashPlan } from './faults.js';
export { attackSuccessRate, type AsrSource } from './asr.js';
