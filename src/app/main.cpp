#include "cli.hpp"

int main(int argc, char** argv) { return imgbatch::run_cli(argc, argv); }
