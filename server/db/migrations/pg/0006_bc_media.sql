-- Videos and voice messages in Backchannel (issue 13): ../0006_bc_media.sql in Postgres (docs/ARCHITECTURE.md,
-- "Stores"). An upload is an image, a video or a voice message; a video keeps its poster (an image uploaded with it)
-- and duration, a voice message its duration and waveform.
ALTER TABLE bc_uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'image';   -- 'image' | 'video' | 'voice'
ALTER TABLE bc_uploads ADD COLUMN duration_ms BIGINT;
ALTER TABLE bc_uploads ADD COLUMN poster TEXT;                           -- a video's poster image (bc_uploads.name)
ALTER TABLE bc_uploads ADD COLUMN waveform BYTEA;                        -- a voice message's levels, one byte each

-- Who played which voice message, per listener (their devices show the same played/unplayed dot).
CREATE TABLE bc_voice_played (
  message_id BIGINT NOT NULL REFERENCES bc_messages(id) ON DELETE CASCADE,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  thread_id  BIGINT NOT NULL,
  played_at  BIGINT NOT NULL,
  PRIMARY KEY (user_id, message_id)
);
CREATE INDEX bc_voice_played_thread ON bc_voice_played(user_id, thread_id);
