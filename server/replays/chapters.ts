// Podcasting 2.0 JSON chapters [RP29] (https://github.com/Podcastindex-org/podcast-namespace, chapters.md): what the
// feed's <podcast:chapters> and the replay page link to, from a replay's `chapters` column.
import type { ReplayChapter } from './mix'

export interface PodcastChapters {
  version: '1.2.0'
  chapters: { startTime: number; title: string }[]
}

/** The JSON chapters document of a replay's chapters (the column's JSON text, or its parsed value). */
export function podcastChapters(chapters: string | readonly ReplayChapter[]): PodcastChapters {
  const list = typeof chapters === 'string' ? (JSON.parse(chapters) as ReplayChapter[]) : chapters
  return {
    version: '1.2.0',
    chapters: [...list]
      .sort((a, b) => a.startMs - b.startMs)
      .map((c) => ({ startTime: Math.round(c.startMs) / 1000, title: c.title })),
  }
}
