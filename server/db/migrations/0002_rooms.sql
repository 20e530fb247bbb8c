-- reserved: filled in by the rooms domain
SELECT 1;
