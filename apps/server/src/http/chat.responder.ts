import type { Response } from 'express';
import { asEngramError, ChatCompletionResponseDto, ChatIo, EngramError, ErrorCode } from '@engram/core';

/**
 * Answers a chat completion as JSON, or as server-sent events (`data: {chunk}` … then
 * `data: [DONE]`) when streaming. A client that disconnects aborts generation. An error
 * before the first event is thrown to the error filter (a normal JSON error); after it,
 * the status is already sent, so the error becomes the last event.
 */
export async function respondChat(res: Response, stream: boolean, run: (io: ChatIo) => Promise<ChatCompletionResponseDto>): Promise<void> {
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on('close', onClose);
  try {
    if (!stream) {
      const body = await run({ signal: abort.signal });
      res.status(200).json(body);
      return;
    }
    await run({
      signal: abort.signal,
      onChunk: (chunk) => {
        if (!res.headersSent) {
          res.status(200);
          res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
          res.setHeader('Cache-Control', 'no-cache');
          res.setHeader('X-Accel-Buffering', 'no');
          res.flushHeaders();
        }
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      },
    });
    res.end('data: [DONE]\n\n');
  } catch (error) {
    if (!res.headersSent) throw error;
    if (!res.writableEnded) {
      const known = asEngramError(error);
      const e = known instanceof EngramError ? known : new EngramError(ErrorCode.Internal, 'internal error');
      res.end(`data: ${JSON.stringify({ error: { code: e.code, message: e.message } })}\n\n`);
    }
  } finally {
    res.off('close', onClose);
  }
}
