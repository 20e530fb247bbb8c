-- reserved: filled in by the admin domain
SELECT 1;
