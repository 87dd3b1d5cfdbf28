import { Injectable, PipeTransform } from '@nestjs/common';
import { EngramError } from '@engram/core';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A path id that is not a UUID names nothing: answer 404 like any missing resource. */
@Injectable()
export class ResourceIdPipe implements PipeTransform<string, string> {
  constructor(private readonly resource: string) {}

  transform(value: string): string {
    if (!UUID.test(value)) throw EngramError.notFound(this.resource);
    return value.toLowerCase();
  }
}

export const CubeId = new ResourceIdPipe('cube');
export const TenantId = new ResourceIdPipe('tenant');
export const KeyId = new ResourceIdPipe('api key');
export const MemoryId = new ResourceIdPipe('memory');
export const KvCacheId = new ResourceIdPipe('KV cache');
export const BankId = new ResourceIdPipe('bank');

/** A block address part (level, node) that is not a small non-negative integer names no block: 404. */
@Injectable()
export class BlockIndexPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!/^\d{1,9}$/.test(value)) throw EngramError.notFound('block');
    return Number(value);
  }
}
