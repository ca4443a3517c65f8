#!/bin/sh
# Stands in for kubectl in clean-up jobs.
echo "toolbox $TOOLBOX_VERSION"
