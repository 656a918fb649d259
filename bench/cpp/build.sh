#!/bin/sh
# Builds bench/cpp/ba_manual_timing from ADBench's hand-written BA derivatives (bench/cpp/adbench,
# MIT licence: adbench/LICENSE.TXT; fetched from github.com/microsoft/ADBench at 38cb7931).
set -e
cd "$(dirname "$0")"
g++ -O3 -march=native -std=c++14 -o ba_manual_timing ba_manual_timing.cpp adbench/src/cpp/modules/manual/ba_d.cpp
