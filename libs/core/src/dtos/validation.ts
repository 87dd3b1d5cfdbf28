import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
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

/** Any UUID version: memory ids are version 7 (time-ordered, ADR 0118), other ids version 4. */
export function ValidateUUID(options: { optional?: boolean; each?: boolean } = {}) {
  const decorators = [IsUUID('all', { each: options.each, message: options.each ? '$property must hold UUIDs' : '$property must be a UUID' })];
  if (options.optional) decorators.unshift(IsOptional());
  return applyDecorators(...decorators);
}

export function ValidateName(options: { optional?: boolean; max?: number } = {}) {
  const max = options.max ?? 200;
  const doc = { type: String, minLength: 1, maxLength: max };
  return applyDecorators(
    ...(options.optional ? [IsOptional(), ApiPropertyOptional(doc)] : [ApiProperty(doc)]),
    IsString(),
    MinLength(1),
    MaxLength(max),
    Matches(/\S/, { message: '$property must not be blank' }),
  );
}

export function ValidateText(options: { optional?: boolean; nullable?: boolean; max: number }) {
  return applyDecorators(
    ...(options.optional ? [options.nullable ? ValidateIf((_o, v) => v !== null && v !== undefined) : IsOptional()] : []),
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
    ...(options.optional ? [IsOptional(), ApiPropertyOptional({ type: 'object', additionalProperties: true })] : [ApiProperty({ type: 'object', additionalProperties: true })]),
    IsObject({ message: '$property must be a JSON object' }),
    MaxKeys(options.maxKeys ?? 200),
  );
}

/** An ISO-8601 timestamp, turned into a Date. */
export function ValidateDate(options: { optional?: boolean } = {}) {
  return applyDecorators(
    ...(options.optional ? [IsOptional(), ApiPropertyOptional({ type: String, format: 'date-time' })] : [ApiProperty({ type: String, format: 'date-time' })]),
    Type(() => Date),
    IsDate({ message: '$property must be an ISO-8601 date-time' }),
  );
}

export function ValidateLimit(max: number) {
  return applyDecorators(
    IsOptional(),
    ApiPropertyOptional({ type: Number, minimum: 1, maximum: max }),
    Type(() => Number),
    IsInt({ message: '$property must be an integer' }),
    Min(1),
    Max(max),
  );
}

export function ValidateStringList(options: { maxItems: number; optional?: boolean }) {
  return applyDecorators(
    ...(options.optional ? [IsOptional()] : []),
    ArrayMaxSize(options.maxItems),
    IsString({ each: true }),
  );
}

export class PageQueryDto {
  @ValidateLimit(500)
  limit?: number;

  @IsOptional()
  @ApiPropertyOptional({ type: String })
  @IsString()
  @MaxLength(1000)
  cursor?: string;
}
