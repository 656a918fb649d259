#!/bin/sh
# Builds bench/cpp/ba_manual_timing and bench/cpp/hand_manual_timing from ADBench's hand-written
# derivatives of bundle adjustment and hand tracking (bench/cpp/adbench, MIT licence:
# adbench/LICENSE.TXT; fetched from github.com/microsoft/ADBench at 38cb7931, unchanged).
set -e
cd "$(dirname "$0")"
g++ -O3 -march=native -std=c++14 -o ba_manual_timing ba_manual_timing.cpp adbench/src/cpp/modules/manual/ba_d.cpp
g++ -O3 -march=native -std=c++14 -o hand_manual_timing hand_manual_timing.cpp adbench/src/cpp/modules/manual/hand_d.cpp \
    adbench/src/cpp/shared/utils.cpp
