# Sourced by test-services.sh and redis-cluster.sh.
#
# start_watchdog SCRIPT OWNER DIR: once process OWNER is gone (however it ended: a test runner
# killed by SIGTERM or SIGKILL skips its teardown), runs `bash SCRIPT stop DIR`; it ends by itself
# when DIR is removed (a normal stop). Detached, and holding none of the caller's output open (a
# caller reading that to EOF would wait forever). Prints the watchdog's pid.
start_watchdog() {
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done; [ -d "$2" ] && exec bash "$0" stop "$2"' \
    "$1" "$2" "$3" </dev/null >/dev/null 2>&1 &
  echo $!
}
