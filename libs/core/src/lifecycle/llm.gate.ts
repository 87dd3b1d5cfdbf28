import { Inject, Injectable } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { EngramError } from '../errors/engram.error';
import { LifecyclePolicy } from './lifecycle-policy';

/** Whether the operator configured an LLM; policies that need one are refused without it. */
@Injectable()
export class LlmGate {
  constructor(@Inject(ENGRAM_CONFIG) private readonly config: EngramConfig) {}

  get configured(): boolean {
    return this.config.llm !== null;
  }

  requireFor(policy: LifecyclePolicy): void {
    if (this.configured) return;
    const problems = [];
    if (policy.fusion.enabled && policy.fusion.mode === 'llm') problems.push({ field: 'fusion.mode', problems: ['"llm" needs an LLM endpoint, which the operator has not configured (ENGRAM_LLM_BASE_URL); use "rules"'] });
    if (policy.extraction.enabled) problems.push({ field: 'extraction.enabled', problems: ['extraction needs an LLM endpoint, which the operator has not configured (ENGRAM_LLM_BASE_URL)'] });
    if (problems.length) throw EngramError.validation(problems);
  }
}
