// response_format of a chat request → the schema its answer is constrained to (or none).
import { compileSchema, SchemaError, SchemaNode, unsupportedKeywords } from '@engram/inference';
import { ChatResponseFormatDto } from '../dtos/chat-completion.dto';
import { EngramError } from '../errors/engram.error';

/** The compiled schema; a 400 naming the field when it is missing or uses what is not supported. */
export function responseSchema(format: ChatResponseFormatDto | undefined): SchemaNode | null {
  if (!format || format.type === 'text') return null;
  if (format.type === 'json_object') return compileSchema({ type: 'object' });
  const schema = format.json_schema?.schema;
  if (schema === undefined) {
    throw EngramError.validation([{ field: 'response_format.json_schema.schema', problems: ['a json_schema response format needs json_schema.schema'] }]);
  }
  const unsupported = unsupportedKeywords(schema, 'response_format.json_schema.schema');
  if (unsupported.length > 0) {
    throw EngramError.validation(unsupported.map((field) => ({ field, problems: [`the keyword "${field.slice(field.lastIndexOf('.') + 1)}" is not supported for structured output`] })));
  }
  try {
    return compileSchema(schema, 'response_format.json_schema.schema');
  } catch (error) {
    if (error instanceof SchemaError) throw EngramError.validation([{ field: error.path, problems: [error.message.slice(error.path.length + 2)] }]);
    throw error;
  }
}
