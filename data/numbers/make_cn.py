#!/usr/bin/env python3
"""Writes data/numbers/cn.tsv, callpop's offline 归属地 and carrier data for
Chinese numbers, from libphonenumber's geocoding and carrier data as the
`phonenumbers` package on PyPI carries it (Apache-2.0; see NOTICE).

    pip install phonenumbers==VERSION && python3 data/numbers/make_cn.py

The file is plain text, so a center can update it without a rebuild and
point `[phone] number_data` at the new copy. Its sections:

    # source ...                      provenance lines
    P <id> <province> <city> <area> <province_en> <city_en>
    G <prefix> <id>                   a number prefix (country code 86 first) -> place
    C <prefix> <carrier_zh> <carrier_en>

Tab-separated. A place's area code is the landline area code whose own
entry names the same city (empty when none does).
"""

import sys

import phonenumbers
from phonenumbers.carrierdata import CARRIER_DATA
from phonenumbers.geodata import GEOCODE_DATA

# Regions written without 省 in libphonenumber's Chinese names, in full or
# short; both are given the short name.
REGIONS = ["内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门"]
REGION_SUFFIXES = ["维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区"]
MUNICIPALITIES = ["北京市", "上海市", "天津市", "重庆市"]


def split_zh(name):
    """(province, city) of a Chinese place name."""
    for m in MUNICIPALITIES:
        if name.startswith(m):
            return m, name
    if "省" in name:
        i = name.index("省") + 1
        return name[:i], name[i:]
    for r in REGIONS:
        if name.startswith(r):
            rest = name[len(r):]
            for suffix in REGION_SUFFIXES:
                if rest.startswith(suffix):
                    rest = rest[len(suffix):]
                    break
            return r, rest
    return name, ""


def split_en(name):
    """(province, city) of an English place name ("Jinan, Shandong")."""
    if ", " in name:
        city, province = name.rsplit(", ", 1)
        return province, city
    return name, name


def main(out):
    geo = {k: v for k, v in GEOCODE_DATA.items() if k.startswith("86")}
    carriers = {k: v for k, v in CARRIER_DATA.items() if k.startswith("86")}
    # Landline area codes by the city their entries name: every city of a
    # name that lists several ("辽宁省沈阳市、铁岭市"), shortest prefix first.
    area_of = {}
    for prefix in sorted(geo, key=lambda p: (len(p), p)):
        nsn = prefix[2:]
        if nsn.startswith("1") and not nsn.startswith("10"):
            continue  # mobiles
        area = nsn[:2] if nsn[0] in "12" else nsn[:3]
        province, cities = split_zh(geo[prefix].get("zh", ""))
        for city in cities.split("、"):
            area_of.setdefault((province, city), area)
    places = {}
    lines = []
    for prefix in sorted(geo, key=lambda p: (len(p), p)):
        names = geo[prefix]
        zh, en = names.get("zh", ""), names.get("en", "")
        key = (zh, en)
        if key not in places:
            places[key] = len(places)
            province, city = split_zh(zh)
            province_en, city_en = split_en(en)
            area = area_of.get((province, city.split("、")[0]), "")
            lines.append(
                "P\t%d\t%s\t%s\t%s\t%s\t%s"
                % (places[key], province, city, area, province_en, city_en)
            )
    body = ["G\t%s\t%d" % (p, places[(geo[p].get("zh", ""), geo[p].get("en", ""))])
            for p in sorted(geo)]
    body += ["C\t%s\t%s\t%s" % (p, v.get("zh", ""), v.get("en", "")) for p, v in sorted(carriers.items())]
    with open(out, "w", encoding="utf-8") as f:
        f.write("# callpop number data for +86: 归属地 (province, city, area code) and carrier\n")
        f.write("# source: libphonenumber geocoding and carrier data, via phonenumbers %s (Apache-2.0, see NOTICE)\n"
                % phonenumbers.__version__)
        f.write("# written by data/numbers/make_cn.py; format described there\n")
        for line in lines + body:
            f.write(line + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/numbers/cn.tsv")
