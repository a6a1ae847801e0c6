// The command line: `serve`, `worker`, `version` (and later `process`). Every option is a
// flag and an IMGBATCH_* environment variable; the flag wins.
#pragma once

namespace imgbatch {

int run_cli(int argc, char** argv);

}  // namespace imgbatch
