/**
 * Bearer tokens never reach a log line or a response: the SSE feed's
 * `?access_token=` (the one place a token may travel in a URL, see
 * request-auth.ts) is replaced by REDACTED in every URL a problem document
 * or a log line carries, and `Bearer <token>` in any logged text likewise.
 */
import { stdSerializers, type LoggerOptions } from 'pino';

/** The query parameter that carries a token where headers cannot (EventSource). */
export const ACCESS_TOKEN_PARAM = 'access_token';

const REDACTED = 'REDACTED';

/**
 * `text` with the value of every `access_token` query parameter replaced
 * by REDACTED. The name is compared after percent-decoding, as the query
 * parser reads it (`access%5Ftoken=` is the same parameter). Text without
 * an `=` is returned as is.
 */
export function redactAccessToken(text: string): string {
  if (!text.includes('=')) return text;
  return text.replace(/([?&;])([^=&;\s#?]*)=([^&;\s#]*)/g, (match, separator: string, name: string) =>
    decodedName(name) === ACCESS_TOKEN_PARAM ? `${separator}${name}=${REDACTED}` : match,
  );
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}

/** `text` with access tokens in URLs and credentials after `Bearer ` replaced by REDACTED. */
export function redactTokens(text: string): string {
  return redactAccessToken(text).replace(/\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi, `$1${REDACTED}`);
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * pino options for a process that serves users' requests: the request
 * serializer keeps method, redacted URL and addresses (never headers); the
 * error serializer drops Node's `rawPacket` (the raw request bytes a parse
 * error carries) and redacts its strings (message, stack, ...); every string argument of a
 * log call (fastify's own messages quote URLs) is redacted.
 */
export const TOKEN_SAFE_LOGGING: Pick<LoggerOptions, 'serializers' | 'hooks'> = {
  serializers: {
    req: (req: LoggedRequest) => ({
      method: req.method,
      url: req.url === undefined ? undefined : redactAccessToken(req.url),
      host: req.host,
      remoteAddress: req.ip,
      remotePort: req.socket?.remotePort,
    }),
    err: (err: Error) => {
      const serialized = stdSerializers.err(err) as ReturnType<typeof stdSerializers.err> & Record<string, unknown>;
      delete serialized.rawPacket;
      for (const [key, value] of Object.entries(serialized)) {
        if (typeof value === 'string') serialized[key] = redactTokens(value);
      }
      return serialized;
    },
  },
  hooks: {
    logMethod(args, method) {
      method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactTokens(arg) : arg)) as Parameters<typeof method>);
    },
  },
};
