// The media domain (the SFU): built after the rooms, whose events say who is heard. It returns its `rtc.*`
// WebSocket handlers for app.ts to mount; start() opens the media socket, stop() closes every peer and the socket.
import type { MediaApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { MediaService } from './service'

export interface MediaDomain extends Domain<MediaApi> {
  readonly ws: MediaService['ws']
  /** The service itself (tests and the SFU bench reach its debug counters). */
  readonly service: MediaService
}

export function createMedia(deps: { core: Core; rooms: RoomsApi }): MediaDomain {
  const service = new MediaService(deps.core, deps.rooms)
  return { api: service, ws: service.ws, service, start: () => service.start(), stop: () => service.closeAll() }
}
