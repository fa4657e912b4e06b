# Weak-password probe (perl): runs ON THE HOST, unprivileged, at low priority. Fixed program text:
# every input is data on stdin (line 1: base64 header of parameters and candidates; then /etc/shadow
# as `sudo -n cat` printed it); /etc/passwd is read here. Only account names and the rule that
# matched are printed; never a candidate, a password, a salt or a hash. Reads, never writes.
use strict;
use MIME::Base64 qw(decode_base64);
$| = 1;
$SIG{__WARN__} = sub {};
$SIG{__DIE__} = sub { print "fatal\n"; exit 3; };
sub cpu { my @t = times; return $t[0] + $t[1]; }
my $t0 = cpu();
my $hdr = <STDIN>;
$hdr = '' unless defined $hdr;
my ($budget, $cap, @cands) = (2.0, 100);
for my $l (split /\n/, decode_base64($hdr)) {
  my ($k, $tag, $v) = split /\t/, $l, 3;
  if ($k eq 'budget') { $budget = $tag + 0; }
  elsif ($k eq 'cap') { $cap = int($tag); }
  elsif ($k eq 'c' && defined $v && ($tag eq 'common' || $tag eq 'inventory') && @cands < 5000) { push @cands, [$tag, $v]; }
  elsif ($k eq 'u' && defined $tag && $tag =~ /^\d{1,2}$/ && @cands < 5000) { push @cands, ['u', $tag + 0]; }
}
print "engine perl\n";
my (%pw, @order, $noshadow, $lines);
while (my $l = <STDIN>) {
  last if ++$lines > 100000;
  chomp $l;
  if ($l eq '@@noshadow') { $noshadow = 1; next; }
  my @f = split /:/, $l, -1;
  next if @f < 2 || $f[0] eq '' || length($f[0]) > 256 || exists $pw{$f[0]};
  $pw{$f[0]} = $f[1]; push @order, $f[0];
}
if ($noshadow) { print "noshadow\n"; }
if (open(my $fh, '<', '/etc/passwd')) {
  my $n = 0;
  while (my $l = <$fh>) {
    last if ++$n > 100000;
    chomp $l;
    my @f = split /:/, $l, -1;
    next if @f < 2 || $f[0] eq '' || length($f[0]) > 256 || $f[0] =~ /^[+-]/;
    next if $f[1] eq 'x' || $f[1] eq '##' . $f[0];
    push @order, $f[0] unless exists $pw{$f[0]};
    $pw{$f[0]} = $f[1];
  }
  close $fh;
} else { print "nopasswd\n"; }
sub scheme {
  my $h = shift;
  return 'empty' if $h eq '';
  return '' if $h =~ /^[!*]/;
  return $1 if $h =~ /^\$([^\$]{1,8})\$/;
  return 'des' if $h =~ m{^[./0-9A-Za-z]{13}$};
  return 'bsdi' if $h =~ m{^_[./0-9A-Za-z]{19}$};
  return '';
}
my @y = localtime(time); my $year = $y[5] + 1900;
sub user_variants {
  my $u = shift;
  return ($u, ucfirst($u), scalar reverse($u), $u . '123', $u . '@123', ucfirst($u) . '@123', $u . '1234',
          $u . '1', $u . $year, $u . ($year - 1), $u . '@' . $year, ucfirst($u) . $year, uc($u), $u . $u, $u . '12345', $u . '123456');
}
my (%members, @groups, %cost, %ncost, $guesses, $stopped);
for my $n (@order) {
  my $h = $pw{$n}; my $s = scheme($h);
  if ($s eq 'empty') { print "account weak empty $n\n"; next; }
  next if $s eq '';
  if (!exists $members{$h}) { $members{$h} = []; push @groups, $h; }
  push @{$members{$h}}, $n;
}
my (%list, %pos, %done, %hit, %bad, %sch);
for my $h (@groups) {
  my @l = (['empty', '']);
  my @uv = map { [user_variants($_)] } @{$members{$h}};
  for my $c (@cands) {
    if ($c->[0] eq 'u') { for my $v (@uv) { push @l, ['username', $v->[$c->[1]]] if defined $v->[$c->[1]]; } }
    else { push @l, $c; }
  }
  my %s; @l = grep { !$s{$_->[1]}++ } @l;
  $#l = $cap - 1 if @l > $cap;
  $list{$h} = \@l; $pos{$h} = 0; $sch{$h} = scheme($h);
}
my $active = 1;
while ($active && !$stopped) {
  $active = 0;
  for my $h (@groups) {
    next if $done{$h};
    my $s = $sch{$h};
    my $est = $ncost{$s} ? $cost{$s} / $ncost{$s} : 0;
    if (cpu() - $t0 + $est > $budget) { $stopped = 1; last; }
    my $c = $list{$h}[$pos{$h}];
    my $a = cpu();
    my $r = crypt($c->[1], $h);
    $cost{$s} += cpu() - $a; $ncost{$s}++; $guesses++;
    $pos{$h}++;
    if (!defined $r || $r =~ /^\*/ || substr($r, 0, 2) ne substr($h, 0, 2)) { $bad{$h} = 1; $done{$h} = 1; }
    elsif ($r eq $h) { $hit{$h} = [$c->[0], $c->[1]]; $done{$h} = 1; }
    elsif ($pos{$h} >= @{$list{$h}}) { $done{$h} = 1; }
    $active = 1;
  }
}
my %byc;
my %rule = (empty => 'empty', username => 'username', common => 'common', inventory => 'inventory');
for my $h (@groups) {
  for my $n (@{$members{$h}}) {
    if ($bad{$h}) { print "account untested scheme $n\n"; }
    elsif ($hit{$h}) { print "account weak $rule{$hit{$h}[0]} $n\n"; }
    elsif ($done{$h}) { print "account clean " . scalar(@{$list{$h}}) . " $n\n"; }
    else { print "account untested budget $pos{$h}/" . scalar(@{$list{$h}}) . " $n\n"; }
  }
  if ($hit{$h}) { push @{$byc{$hit{$h}[1]}}, $h; }
}
my $g = 0;
for my $h (@groups) {
  next if $hit{$h};
  next unless @{$members{$h}} > 1;
  $g++; print "shared $g hash $_\n" for @{$members{$h}};
}
for my $c (sort { $byc{$a}[0] cmp $byc{$b}[0] } keys %byc) {
  my @m = map { @{$members{$_}} } @{$byc{$c}};
  next unless @m > 1;
  $g++; print "shared $g guess $_\n" for @m;
}
for my $s (sort keys %ncost) { printf "cost %s %d %.4f\n", $s, $ncost{$s}, $cost{$s}; }
printf "cpu %.3f budget %.3f guesses %d\n", cpu() - $t0, $budget, $guesses || 0;
print "done\n";
