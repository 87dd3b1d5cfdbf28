import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { UpdateCubeDto } from './cube.dto';
import { SchedulerPauseDto } from './lifecycle.dto';
import { AddMemoriesDto, UpdateMemoryDto } from './memory.dto';
import { WriteBankDto } from './bank.dto';
import { ChatCompletionRequestDto } from './chat-completion.dto';
import { CreateKvCacheDto } from './kv-cache.dto';
import { parseIsoDateTime } from './validation';

/** The problems class-validator finds, by field (as the validation pipe would name them). */
function problems<T extends object>(type: new () => T, plain: object): Record<string, string[]> {
  const errors = validateSync(plainToInstance(type, plain), { whitelist: true, forbidNonWhitelisted: true });
  const out: Record<string, string[]> = {};
  const visit = (list: typeof errors, parent: string) => {
    for (const e of list) {
      const field = parent ? `${parent}.${e.property}` : e.property;
      if (e.constraints) out[field] = Object.values(e.constraints);
      visit(e.children ?? [], field);
    }
  };
  visit(errors, '');
  return out;
}

describe('parseIsoDateTime', () => {
  it.each([
    ['2024-03-05T10:15:00Z', '2024-03-05T10:15:00.000Z'],
    ['2024-03-05T10:15:00.123Z', '2024-03-05T10:15:00.123Z'],
    ['2024-03-05T10:15:00.123456Z', '2024-03-05T10:15:00.123Z'],
    ['2024-03-05T10:15:00.123456789+00:00', '2024-03-05T10:15:00.123Z'],
    ['2024-03-05T10:15:00+02:00', '2024-03-05T08:15:00.000Z'],
    ['2024-03-05T00:15:00-05:30', '2024-03-05T05:45:00.000Z'],
    ['2024-03-05T10:15:00+0200', '2024-03-05T08:15:00.000Z'],
    ['2024-03-05T10:15Z', '2024-03-05T10:15:00.000Z'],
    ['2024-03-05t10:15:00z', '2024-03-05T10:15:00.000Z'],
    ['2024-03-05T10:15:00', '2024-03-05T10:15:00.000Z'],
    ['2024-03-05', '2024-03-05T00:00:00.000Z'],
    ['2024-02-29T23:59:59.999Z', '2024-02-29T23:59:59.999Z'],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
    ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    [new Date('2024-01-01T00:00:00Z').toISOString(), '2024-01-01T00:00:00.000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseIsoDateTime(text)?.toISOString()).toBe(iso);
  });

  it.each([
    ['a day past the end of February', '2024-02-30T00:00:00Z'],
    ['February 29th of a common year', '2023-02-29'],
    ['February 29th of a century that is not a leap year', '1900-02-29'],
    ['April 31st', '2024-04-31'],
    ['month 13', '2024-13-01'],
    ['month 0', '2024-00-10'],
    ['day 0', '2024-01-00'],
    ['hour 24', '2024-01-01T24:00:00Z'],
    ['minute 60', '2024-01-01T10:60:00Z'],
    ['a leap second', '2024-06-30T23:59:60Z'],
    ['an offset of 24 hours', '2024-01-01T10:00:00+24:00'],
    ['year 0', '0000-01-01'],
    ['a date with an offset but no time', '2024-01-01Z'],
    ['a lone number as a string', '1'],
    ['a year alone', '2024'],
    ['a year and month', '2024-03'],
    ['prose', 'March 5, 2024'],
    ['an RFC 2822 date', 'Tue, 05 Mar 2024 10:15:00 GMT'],
    ['a space for the T', '2024-03-05 10:15:00Z'],
    ['surrounding spaces', ' 2024-03-05'],
    ['a 6-digit year', '+002024-03-05'],
    ['an empty string', ''],
  ])('refuses %s', (_name, text) => {
    expect(parseIsoDateTime(text)).toBeNull();
  });

  it.each([0, 1, 1_700_000_000_000, true, false, null, undefined, {}, [], ['2024-01-01']])('refuses the non-string %p', (value) => {
    expect(parseIsoDateTime(value)).toBeNull();
  });

  it('keeps a valid Date and refuses an invalid one', () => {
    const d = new Date('2024-01-01T00:00:00Z');
    expect(parseIsoDateTime(d)).toBe(d);
    expect(parseIsoDateTime(new Date('nope'))).toBeNull();
  });
});

describe('date fields of requests', () => {
  const ISO = '$property must be an ISO-8601 date-time';

  it.each(['2024-02-30T00:00:00Z', '2023-02-29', '1', 0, true, 'March 5, 2024'])('refuse %p as observedAt, naming the field', (value) => {
    expect(problems(AddMemoriesDto, { items: [{ text: 'x', observedAt: value }] })['items.0.observedAt']).toEqual([ISO.replace('$property', 'observedAt')]);
  });

  it('turn an ISO-8601 date-time into that instant', () => {
    const dto = plainToInstance(AddMemoriesDto, { items: [{ text: 'x', observedAt: '2024-03-05T10:15:00+01:00' }] });
    expect(validateSync(dto)).toEqual([]);
    expect(dto.items[0].observedAt?.toISOString()).toBe('2024-03-05T09:15:00.000Z');
  });
});

describe('null in an update', () => {
  it.each([
    ['text', 'text must be a string'],
    ['tags', 'tags must be an array'],
    ['metadata', 'metadata must be a JSON object'],
    ['reason', 'reason must be a string'],
    ['pinned', 'pinned must be a boolean value'],
  ])('refuses %s: null, naming the field', (field, message) => {
    expect(problems(UpdateMemoryDto, { [field]: null })[field]).toContain(message);
  });

  it.each(['validFrom', 'validTo', 'expiresAt', 'importance'])('accepts %s: null (it clears the field)', (field) => {
    const dto = plainToInstance(UpdateMemoryDto, { [field]: null });
    expect(validateSync(dto, { whitelist: true, forbidNonWhitelisted: true })).toEqual([]);
    expect((dto as unknown as Record<string, unknown>)[field]).toBeNull();
  });

  it('leaves a field that is left out unchecked', () => {
    expect(problems(UpdateMemoryDto, {})).toEqual({});
  });

  it.each([
    ['name', 'name must be a string'],
    ['settings', 'settings must be a JSON object'],
  ])('of a cube refuses %s: null, naming the field', (field, message) => {
    expect(problems(UpdateCubeDto, { [field]: null })[field]).toContain(message);
  });

  it('of a cube accepts description: null (it clears the description)', () => {
    expect(problems(UpdateCubeDto, { description: null })).toEqual({});
  });
});

describe('scheduler pause', () => {
  it('refuses tenantId: null instead of pausing the whole instance', () => {
    expect(problems(SchedulerPauseDto, { tenantId: null }).tenantId).toEqual(['tenantId must be a UUID']);
  });

  it('takes no tenantId as the whole instance', () => {
    expect(problems(SchedulerPauseDto, {})).toEqual({});
  });
});

describe('UUIDs in a request body', () => {
  it('are read in lower case, as rows hold them (RFC 4122: capitals mean the same id)', () => {
    const id = '01A22EAC-B4A5-70A2-9D8C-4EDF42E67DC8';
    expect(plainToInstance(WriteBankDto, { memoryIds: [id] }).memoryIds).toEqual([id.toLowerCase()]);
    expect(plainToInstance(CreateKvCacheDto, { model: 'm', memoryIds: [id] }).memoryIds).toEqual([id.toLowerCase()]);
    const chat = plainToInstance(ChatCompletionRequestDto, { model: 'm', messages: [{ role: 'user', content: 'hi' }], engram: { cubeId: id, kvCacheIds: [id], bankId: id } });
    expect(chat.engram).toMatchObject({ cubeId: id.toLowerCase(), kvCacheIds: [id.toLowerCase()], bankId: id.toLowerCase() });
    expect(problems(WriteBankDto, { memoryIds: [id] })).toEqual({});
    expect(problems(WriteBankDto, { memoryIds: [7, 'NOT-A-UUID'] })).toEqual({ memoryIds: ['memoryIds must hold UUIDs'] });
  });
});
