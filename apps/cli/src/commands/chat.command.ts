import { Command } from 'commander';
import type { ChatMessage } from '@engram/client';
import { ClientEnv } from './remote.options';
import { clientFor, RemoteCommandOptions, tenantCommand } from './tenant-client';

/** `engram chat`: one question to a local model, grounded in a cube's memories, streamed to stdout. */
export function registerChatCommand(program: Command, env: () => ClientEnv): void {
  tenantCommand(program, 'chat <message...>', "ask a model on the server, with the cube's most relevant memories in front; the answer streams")
    .requiredOption('--model <name>', 'a model registered on the server')
    .option('--cube <cube>', 'the cube whose memories ground the answer (id or name)')
    .option('-k, --top-k <n>', 'memories to put in front (default 5)', Number)
    .option('--system <text>', 'a system message')
    .option('--max-tokens <n>', 'most tokens to generate', Number)
    .option('--temperature <t>', '0 for greedy (repeatable) answers', Number)
    .action(async (words: string[], options: RemoteCommandOptions & { model: string; cube?: string; topK?: number; system?: string; maxTokens?: number; temperature?: number }) => {
      const client = clientFor(options, env());
      const question = words.join(' ');
      const memories = options.cube ? await client.memories.search(options.cube, question, { topK: options.topK ?? 5 }) : [];
      const memoryText = memories.length ? `What you remember about this user:\n${memories.map((m) => `- ${m.text}`).join('\n')}` : undefined;
      const messages: ChatMessage[] = [...(options.system ? [{ role: 'system' as const, content: options.system }] : []), { role: 'user', content: question }];
      const request = { model: options.model, messages, max_tokens: options.maxTokens, temperature: options.temperature, engram: options.cube ? { cube: options.cube, memoryText } : undefined };
      if (options.json) {
        const answer = await client.chat.complete(request);
        process.stdout.write(`${JSON.stringify({ answer: answer.choices[0]?.message.content ?? '', memories: memories.map((m) => ({ id: m.id, text: m.text, score: m.score })), usage: answer.usage }, null, 2)}\n`);
        return;
      }
      for await (const chunk of client.chat.stream(request)) process.stdout.write(chunk.choices[0]?.delta.content ?? '');
      process.stdout.write('\n');
    });
}
