# Sourced by ./mvnw and ./annals: point JAVA_HOME at a JDK 21 or newer.
# Order: JAVA_HOME, then the java on PATH, then the usual install folders.
# Stops with a clear message when none is installed.

annals_java_major() {
  # Prints the major version of the java binary given as $1, or nothing.
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

annals_is_jdk21() {
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 1
  major=$(annals_java_major "$1/bin/java")
  [ -n "$major" ] && [ "$major" -ge 21 ]
}

annals_find_jdk() {
  if [ -n "${JAVA_HOME-}" ] && annals_is_jdk21 "$JAVA_HOME"; then
    return 0
  fi
  if command -v java >/dev/null 2>&1; then
    java_bin=$(command -v java)
    if command -v readlink >/dev/null 2>&1; then
      java_bin=$(readlink -f "$java_bin" 2>/dev/null || echo "$java_bin")
    fi
    candidate=${java_bin%/bin/java}
    if annals_is_jdk21 "$candidate"; then
      JAVA_HOME=$candidate
      return 0
    fi
  fi
  annals_globbing_was_off=0
  case $- in *f*) annals_globbing_was_off=1; set +f ;; esac
  best=""
  best_major=0
  for candidate in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /usr/local/jdk* \
                   /Library/Java/JavaVirtualMachines/*/Contents/Home "$HOME"/.sdkman/candidates/java/* \
                   "$HOME"/.jdks/*; do
    [ -d "$candidate" ] || continue
    annals_is_jdk21 "$candidate" || continue
    major=$(annals_java_major "$candidate/bin/java")
    if [ "$major" -gt "$best_major" ]; then
      best=$candidate
      best_major=$major
    fi
  done
  [ "$annals_globbing_was_off" = 1 ] && set -f
  if [ -n "$best" ]; then
    JAVA_HOME=$best
    return 0
  fi
  echo "Annals needs a JDK 21 or newer, and none was found." >&2
  echo "Looked at JAVA_HOME (${JAVA_HOME:-unset}), the java on PATH, and /usr/lib/jvm, /usr/java, /opt/java." >&2
  echo "Install one (for example: apt-get install openjdk-21-jdk) or set JAVA_HOME to it." >&2
  exit 1
}

annals_find_jdk
export JAVA_HOME
