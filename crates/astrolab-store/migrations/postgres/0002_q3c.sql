-- q3c spatial indexes (Koposov & Bartunov 2006), applied only where the q3c
-- extension is available; the HEALPix hpx index keeps working without it.
-- Always in public: a schema dropped later must not take the extension along.
CREATE EXTENSION IF NOT EXISTS q3c SCHEMA public;
CREATE INDEX zcatalog_q3c ON zcatalog (q3c_ang2ipix(ra, dec));
CREATE INDEX redshifts_q3c ON redshifts (q3c_ang2ipix(ra, dec));
CREATE INDEX fastspec_q3c ON fastspec (q3c_ang2ipix(ra, dec));
CREATE INDEX galaxies_q3c ON galaxies (q3c_ang2ipix(ra, dec));
