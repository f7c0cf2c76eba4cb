// A request's logger, made when the request first logs something at an enabled level. pino's
// child() serialises the request's bindings (its id, the task id) for every request: ~4% of a
// poll's CPU (bench/ "poll" profile), spent on every request at `warn`, where a request that goes
// well logs nothing. At `info` fastify logs each request twice, so the child is made as before.
import type { Bindings, ChildLoggerOptions, Level, LevelWithSilentOrString, Logger } from 'pino';

type LogFn = Logger['info'];

export class LazyRequestLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    /** The request's bindings, worked out when the logger is made (reading the task id out of the URL is not free either). */
    private readonly own: () => Bindings,
  ) {}

  /** The real child logger, made once. */
  private get real(): Logger {
    return (this.made ??= this.parent.child(this.own()));
  }

  get level(): LevelWithSilentOrString {
    return (this.made ?? this.parent).level;
  }

  set level(level: LevelWithSilentOrString) {
    this.real.level = level;
  }

  isLevelEnabled(level: LevelWithSilentOrString): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }

  bindings(): Bindings {
    return this.made?.bindings() ?? { ...this.parent.bindings(), ...this.own() };
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.real.child(bindings, options);
  }

  private log(level: Level, args: Parameters<LogFn>): void {
    if (!this.isLevelEnabled(level)) return;
    const real = this.real;
    (real[level] as (...a: unknown[]) => void).apply(real, args);
  }

  fatal(...args: Parameters<LogFn>): void {
    this.log('fatal', args);
  }
  error(...args: Parameters<LogFn>): void {
    this.log('error', args);
  }
  warn(...args: Parameters<LogFn>): void {
    this.log('warn', args);
  }
  info(...args: Parameters<LogFn>): void {
    this.log('info', args);
  }
  debug(...args: Parameters<LogFn>): void {
    this.log('debug', args);
  }
  trace(...args: Parameters<LogFn>): void {
    this.log('trace', args);
  }
  silent(): void {}
}

/**
 * fastify's childLoggerFactory: lazy unless the route asks for its own level or serializers, which
 * pino applies as the child is made.
 */
export function requestLogger(parent: Logger, bindings: () => Bindings, options: ChildLoggerOptions): Logger {
  if (options.level !== undefined || options.serializers !== undefined || options.redact !== undefined) return parent.child(bindings(), options);
  return new LazyRequestLogger(parent, bindings) as unknown as Logger;
}
