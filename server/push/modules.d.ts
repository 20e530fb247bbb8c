// The parts of web-push (and of http_ece, which the tests use to decrypt) that Townhall calls.
declare module 'web-push' {
  export interface PushSubscription {
    endpoint: string
    keys: { p256dh: string; auth: string }
  }
  export interface RequestDetails {
    method: string
    headers: Record<string, string | number>
    body: Buffer | null
    endpoint: string
  }
  export interface RequestOptions {
    vapidDetails?: { subject: string; publicKey: string; privateKey: string }
    TTL?: number
    urgency?: 'very-low' | 'low' | 'normal' | 'high'
    topic?: string
    contentEncoding?: 'aes128gcm' | 'aesgcm'
  }
  export function generateVAPIDKeys(): { publicKey: string; privateKey: string }
  export function generateRequestDetails(
    sub: PushSubscription,
    payload: string | Buffer | null,
    options?: RequestOptions,
  ): RequestDetails
  const _default: { generateVAPIDKeys: typeof generateVAPIDKeys; generateRequestDetails: typeof generateRequestDetails }
  export default _default
}
declare module 'http_ece' {
  export function decrypt(
    buffer: Buffer,
    params: { version: 'aes128gcm'; privateKey: unknown; authSecret: Buffer | string; dh?: Buffer | string },
  ): Buffer
}
