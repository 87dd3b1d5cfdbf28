import { Command } from 'commander';
import type { ChatMessage, ChatRequest, EngramClient } from '@engram/client';
import { DEFAULT_RETRIEVE_TOP_K, MAX_CHAT_TOKENS, MAX_RETRIEVE_TOP_K } from '@engram/core';
import { numberIn, positiveInt } from './number.options';
import { ClientEnv } from './remote.options';
import { clientFor, RemoteCommandOptions, tenantCommand } from './tenant-client';

/**
 * `engram chat`: one question to a model on the server, grounded in a cube's memories,
 * streamed to stdout. The server retrieves the memories (engram.retrieve, on by default
 * with a cube), as it does for every other client: one retrieval, the one whose memories
 * are actually in the prompt, with the cube's working memory and bank still in play (a
 * memoryText from the CLI would turn the working memory off and repeat the memories).
 */
export function registerChatCommand(program: Command, env: () => ClientEnv): void {
  tenantCommand(program, 'chat <message...>', "ask a model on the server, with the cube's most relevant memories in front; the answer streams")
    .requiredOption('--model <name>', 'a model registered on the server')
    .option('--cube <cube>', 'the cube whose memories ground the answer (id or name)')
    .option('-k, --top-k <n>', `memories to put in front (default ${DEFAULT_RETRIEVE_TOP_K}, at most ${MAX_RETRIEVE_TOP_K}); the server picks them within its token budget`, positiveInt(MAX_RETRIEVE_TOP_K))
    .option('--system <text>', 'a system message')
    .option('--max-tokens <n>', 'most tokens to generate', positiveInt(MAX_CHAT_TOKENS))
    .option('--temperature <t>', '0 for greedy (repeatable) answers, up to 2', numberIn(0, 2))
    .action(async (words: string[], options: RemoteCommandOptions & { model: string; cube?: string; topK?: number; system?: string; maxTokens?: number; temperature?: number }) => {
      const client = clientFor(options, env());
      const question = words.join(' ');
      const messages: ChatMessage[] = [...(options.system ? [{ role: 'system' as const, content: options.system }] : []), { role: 'user', content: question }];
      const request: ChatRequest = {
        model: options.model,
        messages,
        max_tokens: options.maxTokens,
        temperature: options.temperature,
        engram: options.cube ? { cube: options.cube, ...(options.topK ? { retrieve: { topK: options.topK } } : {}) } : undefined,
      };
      if (options.json) {
        const answer = await client.chat.complete(request);
        const memories = options.cube ? await memoriesUsed(client, options.cube, answer.engram?.memoryIds ?? []) : [];
        process.stdout.write(`${JSON.stringify({ answer: answer.choices[0]?.message.content ?? '', memories, usage: answer.usage }, null, 2)}\n`);
        return;
      }
      for await (const chunk of client.chat.stream(request)) process.stdout.write(chunk.choices[0]?.delta.content ?? '');
      process.stdout.write('\n');
    });
}

/** The memories the server put in the prompt (its answer names their ids), with their texts. */
async function memoriesUsed(client: EngramClient, cube: string, ids: string[]): Promise<{ id: string; text: string | null }[]> {
  if (!ids.length) return [];
  const cubeId = await client.cubeId(cube);
  return Promise.all(
    ids.map(async (id) => {
      const memory = await client.memories.get(cubeId, id).catch(() => null); // deleted since: the id still says what was used
      return { id, text: memory?.text ?? null };
    }),
  );
}
