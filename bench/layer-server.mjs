// One layer of the HTTP stack on its own, answering the same small JSON as bench/bare-server.mjs, in its own process:
//   node bench/layer-server.mjs express   Express 5, one route, nothing else
//   node bench/layer-server.mjs nest      Nest on Express, one controller, no middleware, no pipes
// bench/http-layers.mjs sets them beside node:http and the service, to show where a trivial route's CPU goes.
import 'reflect-metadata';
import { createServer } from 'node:http';
import express from 'express';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const body = {
  issuer: 'http://127.0.0.1',
  jwks_uri: 'http://127.0.0.1/.well-known/jwks.json',
  token_endpoint: 'http://127.0.0.1/auth/token',
};
const mode = process.argv[2];
let server;
if (mode === 'express') {
  const app = express();
  app.get('/', (_req, res) => res.json(body));
  server = createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
} else if (mode === 'nest') {
  class Discovery {
    get() {
      return body;
    }
  }
  Get('/')(Discovery.prototype, 'get', Object.getOwnPropertyDescriptor(Discovery.prototype, 'get'));
  Controller()(Discovery);
  class Root {}
  Module({ controllers: [Discovery] })(Root);
  const app = await NestFactory.create(Root, { logger: false, bodyParser: false });
  await app.listen(0, '127.0.0.1');
  server = app.getHttpServer();
} else {
  throw new Error('usage: layer-server.mjs express|nest');
}
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
