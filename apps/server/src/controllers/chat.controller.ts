import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ChatCompletionRequestDto, ChatCompletionService, RequestContext } from '@engram/core';
import { respondChat } from '../http/chat.responder';
import { Ctx } from '../http/request-context.decorator';

@ApiTags('inference')
@ApiBearerAuth()
@Controller('v1/chat')
export class ChatController {
  constructor(private readonly chat: ChatCompletionService) {}

  @Post('completions')
  @ApiOperation({ summary: "Create a chat completion (OpenAI-compatible), with a cube's memories", description: "Scope inference:run. With `engram.cubeId` the cube's memories are retrieved into the prompt; `stream: true` answers server-sent events." })
  @ApiOkResponse({ description: 'OpenAI chat.completion, or text/event-stream of chat.completion.chunk then [DONE] with stream: true' })
  complete(@Ctx() ctx: RequestContext, @Body() dto: ChatCompletionRequestDto, @Res() res: Response) {
    return respondChat(res, dto.stream === true, (io) => this.chat.complete(ctx, dto, io));
  }
}
