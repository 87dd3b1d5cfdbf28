// OpenAI-compatible chat completion request/response shapes (snake_case as in the
// OpenAI API), plus the optional `engram` block that puts a cube's memory in front.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  Equals,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MAX_TEXT_LENGTH } from './memory.dto';
import { ValidateUUID } from './validation';

export const CHAT_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export const MAX_CHAT_MESSAGES = 256;
export const MAX_CHAT_TOKENS = 4096;

/** OpenAI content parts: only text parts are understood; anything else stays invalid. */
function joinTextParts(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const texts = value.map((p: unknown) => (typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'text' ? (p as { text?: unknown }).text : undefined));
  return texts.every((t) => typeof t === 'string') ? texts.join('') : value;
}

export class ChatMessageDto {
  @ApiProperty({ enum: CHAT_ROLES }) @IsIn(CHAT_ROLES as unknown as string[], { message: `role must be one of: ${CHAT_ROLES.join(', ')}` }) role: string;

  @ApiProperty({ description: 'text, or an array of { type: "text", text } parts (joined)' })
  @Transform(({ value }) => joinTextParts(value))
  @IsString({ message: 'content must be a string or an array of text parts' })
  @MaxLength(MAX_TEXT_LENGTH, { message: `content must be at most ${MAX_TEXT_LENGTH} characters` })
  content: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(128) name?: string;
}

export class ChatEngramDto {
  @ApiProperty({ description: 'the cube whose memory is used; checked before anything else' })
  @ValidateUUID()
  cubeId: string;

  @ApiPropertyOptional({ type: [String], description: 'KV caches of the cube, placed as leading system messages in this order' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'kvCacheIds must hold at least 1 id' })
  @ArrayMaxSize(8)
  @ValidateUUID({ each: true })
  kvCacheIds?: string[];

  @ApiPropertyOptional({ description: 'memory text put as the leading system message; reuses a KV cache of the cube built from the same text' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TEXT_LENGTH, { message: `memoryText must be at most ${MAX_TEXT_LENGTH} characters` })
  @Matches(/\S/, { message: 'memoryText must not be empty or whitespace' })
  memoryText?: string;

  @ApiPropertyOptional({ description: 'a ready parametric memory bank of the cube: the conversation is routed (one embedding) and the blocks of its path are attached to the model' })
  @ValidateUUID({ optional: true })
  bankId?: string;
}

export class ChatStreamOptionsDto {
  @ApiPropertyOptional() @IsOptional() @IsBoolean() include_usage?: boolean;
}

export class ChatCompletionRequestDto {
  @ApiProperty({ description: 'name of a registered model' }) @IsString() @MaxLength(128) model: string;

  @ApiProperty({ type: [ChatMessageDto] })
  @IsArray()
  @ArrayMinSize(1, { message: 'messages must hold at least 1 message' })
  @ArrayMaxSize(MAX_CHAT_MESSAGES)
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  messages: ChatMessageDto[];

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CHAT_TOKENS }) @IsOptional() @IsInt() @Min(1) @Max(MAX_CHAT_TOKENS) max_tokens?: number;
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CHAT_TOKENS }) @IsOptional() @IsInt() @Min(1) @Max(MAX_CHAT_TOKENS) max_completion_tokens?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 2 }) @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(2) temperature?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 1 }) @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0.000001) @Max(1) top_p?: number;
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(0) @Max(2 ** 32 - 1) seed?: number;

  @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }] })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' ? [value] : value))
  @IsArray({ message: 'stop must be a string or an array of strings' })
  @ArrayMaxSize(4)
  @IsString({ each: true })
  @MaxLength(256, { each: true })
  stop?: string[];

  @ApiPropertyOptional() @IsOptional() @IsBoolean() stream?: boolean;
  @ApiPropertyOptional({ type: ChatStreamOptionsDto }) @IsOptional() @ValidateNested() @Type(() => ChatStreamOptionsDto) stream_options?: ChatStreamOptionsDto;
  @ApiPropertyOptional({ description: 'only 1 is supported' }) @IsOptional() @Equals(1, { message: 'n must be 1' }) n?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) user?: string;

  @ApiPropertyOptional({ type: ChatEngramDto }) @IsOptional() @ValidateNested() @Type(() => ChatEngramDto) engram?: ChatEngramDto;
}

export type ChatFinishReason = 'stop' | 'length';

export interface ChatUsageDto {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** What engram adds to an OpenAI response: how much of the prompt came from cached KV, and from where. */
export interface ChatEngramInfoDto {
  cubeId: string | null;
  cachedTokens: number;
  tiers: string[];
  kvCacheIds: string[];
  /** Only with `engram.bankId`: the bank, its generation, the routed path (node per level) and the attached rank. */
  bank?: { id: string; generation: number; path: number[]; rank: number };
  timings: { prefillMs: number; timeToFirstTokenMs: number; decodeTokensPerSecond: number };
}

export interface ChatCompletionResponseDto {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: number; message: { role: 'assistant'; content: string }; finish_reason: ChatFinishReason; logprobs: null }[];
  usage: ChatUsageDto;
  engram: ChatEngramInfoDto;
}

export interface ChatCompletionChunkDto {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: number; delta: { role?: 'assistant'; content?: string }; finish_reason: ChatFinishReason | null; logprobs: null }[];
  usage?: ChatUsageDto;
  engram?: ChatEngramInfoDto;
}
