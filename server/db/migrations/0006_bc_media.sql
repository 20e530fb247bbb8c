-- Videos and voice messages in Backchannel (issue 13). An upload is an image, a video or a voice message; a video
-- keeps its poster (an image uploaded with it) and duration, a voice message its duration and waveform. Who played
-- which voice message is kept per listener (their devices show the same played/unplayed dot).
ALTER TABLE bc_uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'image';   -- 'image' | 'video' | 'voice'
ALTER TABLE bc_uploads ADD COLUMN duration_ms INTEGER;
ALTER TABLE bc_uploads ADD COLUMN poster TEXT;                           -- a video's poster image (bc_uploads.name)
ALTER TABLE bc_uploads ADD COLUMN waveform BLOB;                         -- a voice message's levels, one byte each

CREATE TABLE bc_voice_played (
  message_id INTEGER NOT NULL REFERENCES bc_messages(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  thread_id  INTEGER NOT NULL,
  played_at  INTEGER NOT NULL,
  PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;
CREATE INDEX bc_voice_played_thread ON bc_voice_played(user_id, thread_id);
