import { Injectable } from '@nestjs/common';
import { BankRepository, ModelRepository } from '@engram/persistence';
import { EngramError, FieldProblem } from '../errors/engram.error';
import { LifecyclePolicy, PartialLifecyclePolicy } from './lifecycle-policy';

const FIELD = 'consolidation.bankId';

/**
 * Whether a policy's consolidation bank is one the cube can use (ADR 0403): a bank of this
 * cube, not failed, built for its model as that model is registered now, and — when the
 * cube's working memory names a model — for that same model (chat runs both in one pass).
 * Every refusal is a 400 naming `consolidation.bankId`.
 */
@Injectable()
export class ConsolidationGate {
  constructor(
    private readonly banks: BankRepository,
    private readonly models: ModelRepository,
  ) {}

  async requireUsable(cubeId: string, effective: LifecyclePolicy): Promise<void> {
    const bankId = effective.consolidation.bankId;
    if (!bankId) return;
    const problems: FieldProblem[] = [];
    const refuse = (message: string) => problems.push({ field: FIELD, problems: [message] });
    const bank = await this.banks.get(cubeId, bankId);
    const models = await this.models.list();
    if (!bank) refuse(`no bank ${bankId} in this cube; create one with POST /v1/cubes/${cubeId}/banks`);
    else if (bank.state === 'failed') refuse(`bank ${bankId} failed to build (${bank.error ?? 'unknown error'}); build another`);
    else {
      const model = models.find((m) => m.id === bank.modelId);
      if (!model) refuse(`the model bank ${bankId} was built for is no longer registered`);
      else if (model.fingerprint !== bank.modelFingerprint) refuse(`bank ${bankId} was built for model fingerprint ${short(bank.modelFingerprint)}, model "${model.name}" is now ${short(model.fingerprint)}; build a bank for it`);
      const wanted = effective.activation.model;
      const working = wanted ? models.find((m) => m.name === wanted) : undefined;
      if (working && working.fingerprint !== bank.modelFingerprint) {
        refuse(`bank ${bankId} was built for model fingerprint ${short(bank.modelFingerprint)}, but the cube's working memory runs "${working.name}" (${short(working.fingerprint)}): use a bank of that model`);
      }
    }
    if (problems.length) throw EngramError.validation(problems);
  }

  /** A bank belongs to one cube: instance and tenant defaults may tune consolidation, not name a bank. */
  requireNoBank(level: PartialLifecyclePolicy): void {
    if (level.consolidation?.bankId) throw EngramError.validation([{ field: FIELD, problems: ['a bank belongs to one cube: name it in that cube\'s policy (PUT /v1/cubes/{cubeId}/lifecycle/policy), not in defaults'] }]);
  }
}

const short = (fingerprint: string): string => `${fingerprint.slice(0, 12)}…`;
