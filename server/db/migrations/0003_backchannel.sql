-- reserved: filled in by the backchannel domain
SELECT 1;
