# campus-lab hardened host: written by the administrator (Debian ships no such file)
# campus: idle shells end after 10 minutes, for root too; readonly so a user cannot unset it
TMOUT=600
readonly TMOUT
export TMOUT
# campus: new files are not readable by others
umask 027
