import { Injectable } from '@nestjs/common';
import { ModelRepository } from '@engram/persistence';
import { EngramError } from '../errors/engram.error';
import { LifecyclePolicy } from './lifecycle-policy';

/** The checks of an effective `activation` section that need the model registry (400s naming the field). */
@Injectable()
export class ActivationPolicyGate {
  constructor(private readonly models: ModelRepository) {}

  async requireFor(policy: LifecyclePolicy): Promise<void> {
    const { model, maxTokens } = policy.activation;
    if (model === null) return;
    const row = await this.models.getByName(model);
    if (!row) throw EngramError.validation([{ field: 'activation.model', problems: [`activation.model must name a registered model; "${model}" is not one`] }]);
    const context = Number(row.config.contextLength);
    if (Number.isFinite(context) && maxTokens > context) {
      throw EngramError.validation([{ field: 'activation.maxTokens', problems: [`activation.maxTokens (${maxTokens}) must not exceed the context length of model "${model}" (${context} tokens)`] }]);
    }
  }
}
