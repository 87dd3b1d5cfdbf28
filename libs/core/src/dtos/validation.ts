import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsDate,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  registerDecorator,
  ValidateIf,
} from 'class-validator';

/** Composite validation decorators: one place for how engram validates each kind of field. */

/**
 * An optional field: left out (undefined), its validators are skipped. JSON null is not
 * "left out": it is checked like any value (`text must be a string`), unless `nullable`,
 * for the fields where null has a meaning of its own (clearing a validTo, a description).
 * class-validator's IsOptional skips null too, and services then read null as "absent".
 */
export function Optional(options: { nullable?: boolean } = {}): PropertyDecorator {
  return options.nullable ? IsOptional() : ValidateIf((_object, value) => value !== undefined);
}

/** A string in lower case, and each string of an array; anything else as it is (validation names it). */
export function lowerUuids(value: unknown): unknown {
  if (typeof value === 'string') return value.toLowerCase();
  return Array.isArray(value) ? value.map((v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v)) : value;
}

/** Any UUID version: memory ids are version 7 (time-ordered, ADR 0118), other ids version 4. */
export function ValidateUUID(options: { optional?: boolean; each?: boolean } = {}) {
  const decorators = [
    // A UUID reads the same in capitals (RFC 4122) but rows hold it in lower case: ids compared
    // in code (a bank write's memories, chat's kvCacheIds) missed it, a write did nothing.
    Transform(({ value }) => lowerUuids(value)),
    IsUUID('all', { each: options.each, message: options.each ? '$property must hold UUIDs' : '$property must be a UUID' }),
  ];
  if (options.optional) decorators.unshift(Optional());
  return applyDecorators(...decorators);
}

export function ValidateName(options: { optional?: boolean; max?: number } = {}) {
  const max = options.max ?? 200;
  const doc = { type: String, minLength: 1, maxLength: max };
  return applyDecorators(
    ...(options.optional ? [Optional(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    IsString(),
    MinLength(1),
    MaxLength(max),
    Matches(/\S/, { message: '$property must not be blank' }),
  );
}

export function ValidateText(options: { optional?: boolean; nullable?: boolean; max: number }) {
  return applyDecorators(
    ...(options.optional ? [Optional({ nullable: options.nullable })] : []),
    options.optional ? ApiPropertyOptional({ type: String, maxLength: options.max, nullable: options.nullable }) : ApiProperty({ type: String }),
    IsString(),
    MaxLength(options.max),
  );
}

/** At most `max` top-level keys in an object. */
function MaxKeys(max: number): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'maxKeys',
      target: target.constructor,
      propertyName: String(propertyName),
      constraints: [max],
      options: { message: `$property must have at most ${max} keys` },
      validator: {
        validate: (value: unknown) => typeof value !== 'object' || value === null || Object.keys(value).length <= max,
      },
    });
}

/** A JSON object (not an array) of at most `maxKeys` top-level keys. */
export function ValidateObject(options: { optional?: boolean; maxKeys?: number } = {}) {
  return applyDecorators(
    ...(options.optional ? [Optional(), ApiPropertyOptional({ type: 'object', additionalProperties: true })] : [ApiProperty({ type: 'object', additionalProperties: true })]),
    IsObject({ message: '$property must be a JSON object' }),
    MaxKeys(options.maxKeys ?? 200),
  );
}

/**
 * An ISO-8601 date (`2024-03-05`, midnight UTC) or date-time (`2024-03-05T10:15`, seconds
 * and fractions optional, `Z` or an offset; none reads as UTC) whose calendar date and
 * time exist, between years 1 and 9999 (PostgreSQL has no year 0); null otherwise.
 * `new Date(text)` is no check: it rolls 2024-02-30 over to March 1st, reads "1" as 2001
 * and takes "March 5, 2024", so a client's typo was stored as another date.
 */
export function parseIsoDateTime(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value !== 'string') return null;
  const m = ISO_DATE_TIME.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((part) => Number(part ?? 0));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8] && m[8].toUpperCase() !== 'Z') {
    const [oh, om] = [Number(m[8].slice(1, 3)), Number(m[8].slice(-2))];
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[8][0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it reads years 0–99 as 1900–1999
  date.setUTCHours(hour, minute - offsetMinutes, second, Number((m[7] ?? '').padEnd(3, '0').slice(0, 3)));
  const time = date.getTime();
  return time >= MIN_TIME && time <= MAX_TIME ? date : null;
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;
const MIN_TIME = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const MAX_TIME = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** An ISO-8601 date or date-time (see parseIsoDateTime), turned into a Date; `nullable`: null clears the field. */
export function ValidateDate(options: { optional?: boolean; nullable?: boolean } = {}) {
  const doc = { type: String, format: 'date-time', ...(options.nullable ? { nullable: true } : {}) };
  return applyDecorators(
    ...(options.optional ? [Optional({ nullable: options.nullable }), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    Transform(({ value }) => (value === null || value === undefined ? value : (parseIsoDateTime(value) ?? value))),
    IsDate({ message: '$property must be an ISO-8601 date-time' }),
  );
}

export function ValidateLimit(max: number) {
  return applyDecorators(
    Optional(),
    ApiPropertyOptional({ type: Number, minimum: 1, maximum: max }),
    Type(() => Number),
    IsInt({ message: '$property must be an integer' }),
    Min(1),
    Max(max),
  );
}

export function ValidateStringList(options: { maxItems: number; optional?: boolean }) {
  return applyDecorators(
    ...(options.optional ? [Optional()] : []),
    ArrayMaxSize(options.maxItems),
    IsString({ each: true }),
  );
}

export class PageQueryDto {
  @ValidateLimit(500)
  limit?: number;

  @Optional()
  @ApiPropertyOptional({ type: String })
  @IsString()
  @MaxLength(1000)
  cursor?: string;
}
