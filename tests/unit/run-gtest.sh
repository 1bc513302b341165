#!/bin/sh
# run-gtest.sh - automake LOG_COMPILER for the GTest unit tests: run the
# test program with --tap so that tap-driver.sh counts every test case.
exec "$1" --tap
