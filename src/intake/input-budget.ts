// How many bytes of task inputs (reference images and masks) one worker process holds in memory
// at once. A task's inputs stay in memory from their download until its provider call ends, so
// without a bound 100 tasks × 5 references of 10 MB each took 4.6 GB (the memory benchmark,
// bench/ and README "Performance"). A task that has inputs first reserves its worst case (the
// per-file limits × its number of inputs) and waits, in order, until that fits; tasks without
// inputs never wait. A task whose worst case is larger than the whole budget runs alone.
import { Budget } from '../core/budget.js';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from './limits.js';
import type { GenerationRequest } from '../core/generation-request.js';

/**
 * Input bytes one process holds at once: 192 MiB, three tasks with five 10 MiB references and a
 * mask. Downloads, checks and copies take about as much again while they run, so this keeps a
 * process under ~512 MB with any number of such tasks (256 MiB peaked at 588 MB).
 */
export const MAX_INPUT_BYTES_IN_FLIGHT = 192 * 1024 * 1024;

/** The most input bytes a task can bring: every reference and the mask at their size limits. */
export function worstCaseInputBytes(request: GenerationRequest, limits: Pick<IntakeLimits, 'maxImageBytes' | 'maxMaskBytes'> = DEFAULT_INTAKE_LIMITS): number {
  const references = request.referenceUrls.length + request.storedInputs.references.length;
  const mask = request.maskUrl !== undefined || request.storedInputs.mask !== undefined ? 1 : 0;
  return references * limits.maxImageBytes + mask * limits.maxMaskBytes;
}

/** The one budget of this process, shared by its worker's task runners. */
export const inputBudget = new Budget(MAX_INPUT_BYTES_IN_FLIGHT);
