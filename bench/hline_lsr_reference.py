#!/usr/bin/env python3
"""Reference LSR corrections from astropy for astrolab-hline's velocity test.

Writes crates/astrolab-hline/tests/fixtures/lsr_reference.csv: for a grid of
UTC times, sites and ICRS positions, astropy's barycentric radial-velocity
correction (SkyCoord.radial_velocity_correction, which includes the site's
rotation) and the projections of astropy's LSRK and LSR (Schoenrich 2010)
solar motions. v_LSR = v_topocentric + correction.

Usage: python bench/hline_lsr_reference.py [OUT.csv]   (needs astropy)
"""
import csv
import sys

import numpy as np
from astropy import units as u
from astropy.coordinates import (LSR, LSRK, ICRS, CartesianDifferential,
                                 CartesianRepresentation, EarthLocation, SkyCoord)
from astropy.time import Time
from astropy.utils import iers

iers.conf.auto_download = False  # bundled IERS tables only: reproducible offline

out = sys.argv[1] if len(sys.argv) > 1 else "crates/astrolab-hline/tests/fixtures/lsr_reference.csv"

times = ["2005-03-20T00:00:00", "2012-06-30T23:59:00", "2017-08-01T05:27:42",
         "2019-12-21T18:30:00", "2021-02-10T07:38:37.5", "2023-09-23T12:00:00"]
sites = [("GBT", 38.43312, -79.83983, 824.595), ("Onsala", 57.3930, 11.9177, 20.0),
         ("Parkes", -32.99840, 148.26352, 415.0)]
positions = [(0.0, 0.0), (83.6331, 22.0145), (114.23879, 35.24315), (187.7, 12.39),
             (266.405, -28.936), (300.0, 60.0), (45.0, -75.0)]


def solar_projection(frame, ra, dec):
    """Radial velocity in `frame` of a point at rest in ICRS: the solar motion projected."""
    c = ICRS(ra=ra * u.deg, dec=dec * u.deg, distance=1 * u.kpc,
             pm_ra_cosdec=0 * u.mas / u.yr, pm_dec=0 * u.mas / u.yr,
             radial_velocity=0 * u.km / u.s)
    return c.transform_to(frame).radial_velocity.to_value(u.km / u.s)


with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["utc", "site", "lat_deg", "lon_deg", "height_m", "ra_deg", "dec_deg",
                "v_bary_km_s", "v_lsrk_km_s", "v_lsrd_km_s"])
    for t in times:
        obstime = Time(t, scale="utc")
        for name, lat, lon, h in sites:
            loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, h * u.m)
            for ra, dec in positions:
                sc = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs")
                bary = sc.radial_velocity_correction(kind="barycentric", obstime=obstime,
                                                     location=loc).to_value(u.km / u.s)
                k = solar_projection(LSRK(), ra, dec)
                d = solar_projection(LSR(), ra, dec)
                w.writerow([t, name, lat, lon, h, ra, dec, f"{bary:.6f}",
                            f"{bary + k:.6f}", f"{bary + d:.6f}"])
print("wrote", out)
