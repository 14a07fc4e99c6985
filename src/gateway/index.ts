// The gateway's public surface: the HTTP ingress a process embeds, its settings and its error.
export { Gateway, type GatewayDomain, type GatewayOptions } from './gateway.ts';
export type { GatewaySettings } from './options.ts';
export { GatewayRequestError } from './request-error.ts';
