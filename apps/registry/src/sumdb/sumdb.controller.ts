import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccessService } from '../access/access.service';
import { AuthenticationService } from '../auth/authentication.service';
import { SumdbService } from './sumdb.service';

/**
 * /sumdb/<name>/supported, /lookup/…, /latest, /tile/…: public data, but the
 * registry is not an open relay: a signed-in caller (or anyone with
 * MODGATE_ANONYMOUS_READ). Lookups of private paths are answered by the
 * service itself and never forwarded.
 */
@Controller('sumdb')
export class SumdbController {
  constructor(
    private readonly sumdb: SumdbService,
    private readonly auth: AuthenticationService,
    private readonly access: AccessService,
  ) {}

  @Get(':name/*')
  async relay(@Param('name') name: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const who = await this.auth.authenticate(req);
    this.access.requirePublicRead(who, `sumdb/${name}`, req.host);
    const prefix = `/sumdb/${name}/`;
    // Some clients percent-encode the `!` of case-encoded paths; nothing else
    // is legitimately escaped in the sumdb protocol (the service refuses it).
    const rest = req.url.split('?')[0].slice(prefix.length).replace(/%21/gi, '!');
    const a = await this.sumdb.handle(name, rest);
    reply.status(a.status).header('content-type', a.contentType);
    reply.header('cache-control', a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    await reply.send(req.method === 'HEAD' ? undefined : a.body);
  }
}
