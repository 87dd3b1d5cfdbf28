// The lifecycle policy of manifest.json, checked as PUT /v1/cubes/{id}/lifecycle/policy
// checks a body: the same parser (shape and ranges), then, once the cube's banks are in,
// the same gates on the effective policy (an LLM for "llm" fusion and extraction, a
// registered model for the working memory, a usable bank for consolidation). The one
// difference: the bank a policy names is the archive's, so it is named by its new id.
import { EngramError, FieldProblem } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { ActivationPolicyGate } from '../lifecycle/activation-policy.gate';
import { ConsolidationGate } from '../lifecycle/consolidation.gate';
import { effectivePolicy, parseLifecyclePolicy, PartialLifecyclePolicy } from '../lifecycle/lifecycle-policy';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';
import { LlmGate } from '../lifecycle/llm.gate';
import { archiveError } from './cube-archive.format';

export interface PolicyGates {
  policies: LifecyclePolicies;
  llm: LlmGate;
  consolidation: ConsolidationGate;
  activation: ActivationPolicyGate;
}

/** A validation error of the policy as a 400 of the archive, each problem named `manifest.json lifecyclePolicy.<field>`. */
function asArchiveError(error: unknown): unknown {
  if (!(error instanceof EngramError) || error.code !== ErrorCode.ValidationFailed || !Array.isArray(error.details)) return error;
  const problems = (error.details as FieldProblem[]).map((p) => `manifest.json lifecyclePolicy${p.field === 'policy' ? '' : `.${p.field}`}: ${p.problems.join('; ')}`);
  return archiveError(problems.join(', '));
}

/** The policy's shape and ranges (before anything is created); null when the archive has none. */
export function parseArchivePolicy(raw: Record<string, unknown> | null): PartialLifecyclePolicy | null {
  if (raw === null) return null;
  try {
    return parseLifecyclePolicy(raw);
  } catch (error) {
    throw asArchiveError(error);
  }
}

/**
 * The policy as the new cube stores it, after the gates of PUT accepted it. A consolidation
 * bank is named by its archive id: the bank this import restored in its place
 * (`banks`: archive id → new id); when it was not restored (an export without banks, no
 * model of its fingerprint here, a key without banks:write), the cube imports without
 * consolidation and `skip` says why: the memories matter more than a policy about one bank.
 */
export async function usableArchivePolicy(
  gates: PolicyGates,
  tenantId: string,
  cubeId: string,
  own: PartialLifecyclePolicy,
  banks: ReadonlyMap<string, string>,
  skip: (reason: string) => void,
): Promise<PartialLifecyclePolicy> {
  let policy = own;
  const bankId = own.consolidation?.bankId;
  if (bankId) {
    const restored = banks.get(bankId.toLowerCase());
    if (restored) policy = { ...own, consolidation: { ...own.consolidation, bankId: restored } };
    else {
      const { consolidation: _dropped, ...rest } = own;
      policy = rest;
      skip(`lifecyclePolicy.consolidation: bank ${bankId} was not restored by this import (see banks.jsonl and what else was skipped); the cube has no consolidation policy of its own`);
    }
  }
  try {
    const { instance, tenant } = await gates.policies.levels(tenantId, cubeId);
    const effective = effectivePolicy([instance, tenant, policy]);
    gates.llm.requireFor(effective);
    await gates.consolidation.requireUsable(cubeId, effective);
    await gates.activation.requireFor(effective);
  } catch (error) {
    throw asArchiveError(error);
  }
  return policy;
}
