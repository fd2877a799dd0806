#!/usr/bin/env bash
# Seeds for the fuzz targets that read media ffmpeg makes (a fragmented MP4 for the ladder's
# demuxer, an MJPEG stream for the thumbnailer's splitter): made here from lavfi sources, not
# kept in git (fuzz/.gitignore); what libFuzzer derives from them is kept in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz/corpus"
mkdir -p ladder_demux jpeg_splitter
[[ -f ladder_demux/seed-fragmented.mp4 ]] || ffmpeg -v error -f lavfi -i testsrc2=size=64x36:rate=5:duration=1 \
  -f lavfi -i sine=duration=1 -c:v libx264 -preset veryfast -c:a aac -f mp4 \
  -movflags frag_keyframe+empty_moov -frag_duration 200000 ladder_demux/seed-fragmented.mp4
[[ -f jpeg_splitter/seed-pictures ]] || ffmpeg -v error -f lavfi -i testsrc2=size=32x18:rate=2:duration=1 \
  -f image2pipe -c:v mjpeg jpeg_splitter/seed-pictures
