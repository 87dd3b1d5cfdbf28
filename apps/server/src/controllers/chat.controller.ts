import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @ApiOkResponse({ description: 'OpenAI chat.completion, or text/event-stream of chat.completion.chunk then [DONE] with stream: true' })
  complete(@Ctx() ctx: RequestContext, @Body() dto: ChatCompletionRequestDto, @Res() res: Response) {
    return respondChat(res, dto.stream === true, (io) => this.chat.complete(ctx, dto, io));
  }
}
