import type { IncomingMessage } from 'node:http';
import { GatewayRequestError } from './request-error.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Refuses a request whose `Content-Type` is not JSON (UTF-8, the only charset JSON has). */
export function checkJsonContentType(request: IncomingMessage): void {
  const declared = request.headers['content-type'];
  const [mediaType, ...parameters] = (declared ?? '').split(';').map((part) => part.trim().toLowerCase());
  const charset = parameters.find((parameter) => parameter.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (mediaType === 'application/json' && (charset === undefined || charset === 'utf-8')) return;
  throw new GatewayRequestError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `expected Content-Type application/json (UTF-8), got ${declared === undefined ? 'none' : JSON.stringify(declared)}`,
  );
}

/**
 * Reads the body as JSON, keeping at most `limitBytes` of it. A declared `Content-Length`
 * over the limit is refused before a byte is read; a body that grows past it is refused as
 * soon as it does, and the rest is drained without being kept, so the client can read the
 * 413 (the caller's deadline ends a body that does not stop). Empty, non-UTF-8 or non-JSON
 * bodies are a 400 naming `body`.
 */
export async function readJsonBody(request: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (declared > limitBytes) {
    request.resume();
    throw tooLarge(limitBytes, `${declared} bytes declared`);
  }
  const bytes = await collect(request, limitBytes);
  if (bytes.length === 0) throw badBody('expected a JSON payload, got an empty body');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badBody('expected UTF-8 text, got bytes that are not');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badBody(`expected JSON, got a syntax error: ${(error as Error).message}`);
  }
}

function collect(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      stop();
      chunks.length = 0;
      request.resume();
      reject(tooLarge(limitBytes, `more than ${limitBytes} bytes sent`));
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    const onClose = (): void => onError(new Error('the client closed the connection before the body ended'));
    const stop = (): void => {
      request.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    request.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function tooLarge(limitBytes: number, got: string): GatewayRequestError {
  return new GatewayRequestError(413, 'PAYLOAD_TOO_LARGE', `expected a body of at most ${limitBytes} bytes (maxBodyBytes), got ${got}`, { field: 'body' });
}

function badBody(message: string): GatewayRequestError {
  return new GatewayRequestError(400, 'INVALID_BODY', message, { field: 'body' });
}
