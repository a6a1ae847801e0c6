// The command line: `serve`, `worker`, `process`, `version`. Every option is a
// flag and an IMGBATCH_* environment variable; the flag wins.
#pragma once

namespace imgbatch {

int run_cli(int argc, char** argv);

}  // namespace imgbatch
